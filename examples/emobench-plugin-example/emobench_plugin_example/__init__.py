"""An example emobench method plugin (copy this package to submit your own method)."""
