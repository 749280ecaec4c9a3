"""The format name and version of an EmoGen artifact folder: written by ``emogen.fit``, checked by
``emogen.method`` when it loads one, and stamped by ``emogen.official`` on mappers it converts (so the
converter needs no import of the fitting code)."""
FORMAT = "emogen-artifacts"
VERSION = 1
