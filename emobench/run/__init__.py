"""The run engine: resolve a config, set up the run folder, fit learning methods (``artifacts``), generate every
plan cell with every method into the content-addressed store (``store``), shard across processes (``shard``),
hand the folder to scoring, and verify a stored run (``verify``)."""
