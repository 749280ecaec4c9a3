"""What a run folder holds: its layout and records (``layout``) and its stored results read back as tables
(``results``). Read by scoring, the report and the human study; written by the run engine."""
