"""Signals the newsarchive components use to talk to each other.

``page_parsed(response, outlinks)``: the spider parsed an HTML page.
``page_analyzed(response, outlinks, article)``: extraction finished for a parsed page
(``article`` is a dict of extracted fields, or None when nothing was extracted).
"""

page_parsed = object()
page_analyzed = object()
