"""What a run is: its config (``config``), the cells every method gets (``plan``, built per track by
``tracks``) and the protocol that decides which runs may share a table (``protocol``)."""
