"""The lowest floor: atomic files, sha256, image quantisation and PNG, temp-file sweeping, the run lock.
Imports nothing of emobench above ``emobench.errors``."""
