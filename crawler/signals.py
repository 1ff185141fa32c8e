"""Signals the newsarchive components use to talk to each other.

``page_parsed(response, metadata)``: the spider parsed an HTML page; ``metadata`` (outlinks,
requisites) goes to the page's metadata record.
``page_analyzed(record, metadata, article, extractor_version)``: extraction finished for a
parsed page; ``record`` is the page's WARC response record (a WrittenRecord), ``article`` a
dict of extracted fields or None when nothing was extracted.
``exchange_failed(request, wire, truncated)``: a download failed after response bytes
arrived; ``wire`` (a crawler.wire.WireRecord) holds them, ``truncated`` is the
``WARC-Truncated`` reason.
"""

page_parsed = object()
page_analyzed = object()
exchange_failed = object()
