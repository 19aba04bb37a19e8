"""The layers beneath ``peps_common``, one module each, every import pointing down.

``LAYERS`` lists them from the bottom up: a module may import only modules listed
before it (``tests/test_layers.py`` checks it). README, "How the code is laid out",
says in one line what each holds.
"""

LAYERS = (
    "version",    # the suite's version
    "errors",     # exit statuses, the exception tree, outcomes and their one severity order
    "values",     # dates, tiles, numbers, sizes, tables, the one sleep
    "files",      # atomic writes, locks, the write folder
    "account",    # the account: file, environment, netrc
    "bodies",     # what an answer body says: JSON, WPS XML, Retry-After
    "geodes_stac",  # GEODES's STAC protocol as pure functions: collections, bodies, items
    "http",       # the Client: one session, retries, one mapping of answers to errors
    "catalogue",  # products, queries, paging, lookup, staging (PEPS resto)
    "places",     # tile, place, point, rectangle, GeoJSON shape
    "selection",  # footprints and saved selections
    "geodes",     # GEODES behind the provider interface: STAC search, availability, keys
    "progress",   # the progress display
    "transfer",   # one download as a transaction; extraction
    "fetch",      # many downloads: pool, staging, polling, outcomes
    "download",   # the peps_download workflow
    "wps",        # WPS execute, status documents, reports
    "joblog",     # job logs: save/load
    "jobs",       # following a WPS job
    "full_maja",  # the FULL_MAJA workflow
    "maja",       # the single-product MAJA workflow
    "theia",      # MAJA L2A series on GEODES: Theia's products for a FULL_MAJA request
)
