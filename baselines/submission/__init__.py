"""Images made outside emobench, scored under the run's protocol: ``folder:NAME=DIR`` and ``bundle:FILE.zip``
(``method.py``), reading folders and zips safely (``sources.py``) under one image policy (``images.py``).
docs/submit-images.md is the user's guide."""
