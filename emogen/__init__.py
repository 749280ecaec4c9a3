"""EmoGen (CVPR 2024) as an emobench method plugin: see docs/emogen.md. Entry point: ``emogen.method:EmoGenMethod``."""
