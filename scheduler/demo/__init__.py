"""The bundled offline demo news site, "The Harbour Gazette": its pages (``site/``, package
data) and the local HTTP server that serves them (:mod:`scheduler.demo.server`), used by
``newsarchive demo`` and by the tests."""
