"""Human preference studies of a run (EmoGen Table 2 style): export A/B tasks, rate them in a local web app
or on a crowdsourcing platform, import votes, and analyze them (preference %, Bradley–Terry, Krippendorff's
α, rater quality, metric–human agreement). See docs/human-study.md.

Modules: ``tasks`` (task model, seeded orders), ``export`` (run → study folder), ``store`` (SQLite WAL vote
store), ``server`` + ``page`` (rating web app), ``importer`` (platform CSV), ``analyze`` (statistics),
``report`` (Markdown / HTML section).
"""
