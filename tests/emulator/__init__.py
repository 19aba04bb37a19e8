"""The emulators' building blocks, one concern a module; every import points down this list.

==================  =====================================================================
``common``          dates, boxes, MGRS tiles (:data:`TILES`), a deterministic hash
``zips``            real zips of an exact size with their MD5, cached on disk
``products``        one product: traits, storage mode with staging, its zip
``specs``           product names, orbits and traits; the built-in catalogue
``catalogue``       the products an emulator knows; the search filter (SearchQuery)
``faults``          what goes wrong with a download, decided per attempt, and a faulty body
``base_server``     loopback HTTP(S) server, start/stop, test CA (TLS), request log, limits
``base_handler``    routing, log entries, exact byte counts, serving a zip with Range + faults
``base_cli``        command-line options every emulator has; serving until Ctrl-C
``resto``           PEPS's catalogue protocol: search parameters in, GeoJSON features out
``jobs``            MAJA jobs: timeline of states, outcome, result zips
``wps``             PEPS's processing protocol: WPS XML documents, FULL_MAJA rules
``handler``         PEPS's HTTP endpoints (resto, downloads with staging, WPS)
``server``          PepsEmulator: catalogue + jobs + faults + accounts, served
``cli``             ``python -m tests.peps_emulator``
``geodes_*``        the GEODES emulator's own modules (see ``tests/geodes_emulator.py``)
==================  =====================================================================

Protocol-neutral, for any emulator to reuse as they are: ``common``, ``zips``, ``products``,
``specs``, ``catalogue``, ``faults``, ``base_server``, ``base_handler`` and ``base_cli``.
PEPS's own words are in ``resto``, ``jobs``, ``wps``, ``handler``, ``server`` and ``cli``.
``tests/peps_emulator.py`` re-exports the public names and documents the emulator's behaviour.
"""
