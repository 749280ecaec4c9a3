"""Zoos: the models and data a scale supplies (pipeline, CLIP, judges, emotion dataset)."""
