"""One router per resource: crawls, sites, captures, articles, the CDX API, Wayback replay,
Memento TimeMaps, WACZ export, and the system endpoints (/healthz, /metrics)."""
