"""Signals the newsarchive components use to talk to each other.

``page_parsed(response, metadata)``: the spider parsed an HTML page; ``metadata`` (outlinks,
requisites) goes to the page's metadata record.
``page_analyzed(record, metadata, article, extractor_version)``: extraction finished for a
parsed page; ``record`` is the page's WARC response record (a WrittenRecord), ``article`` a
dict of extracted fields or None when nothing was extracted.
``page_rendered(record, render, screenshot, dom)``: the browser middleware handled a page
whose response (or revisit) record is ``record``: ``render`` is what its metadata record
says about it (``{"mode": "browser", "reason": ...}``, or ``"mode": "static"`` with the
``error`` that kept it from the browser); ``screenshot`` (PNG bytes) and ``dom`` (str) are
None when it was not rendered.
``exchange_failed(request, wire, truncated)``: a download failed after response bytes
arrived; ``wire`` (a crawler.wire.WireRecord) holds them, ``truncated`` is the
``WARC-Truncated`` reason.
"""

page_parsed = object()
page_analyzed = object()
exchange_failed = object()
page_rendered = object()
