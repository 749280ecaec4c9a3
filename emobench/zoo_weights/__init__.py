"""Shipped model weights (data only): ``mini/`` is the mini zoo built by ``emobench zoo build mini``."""
