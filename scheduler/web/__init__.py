"""The HTTP face of the service: the app factory (:mod:`~scheduler.web.app`), shared
dependencies (:mod:`~scheduler.web.deps`), error mapping (:mod:`~scheduler.web.errors`),
request and response bodies (:mod:`~scheduler.web.schemas`), one router per resource
(:mod:`scheduler.web.routers`) and the web UI (:mod:`scheduler.web.ui`)."""
