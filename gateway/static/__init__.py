"""The browser pages the gateway serves (api/routes/pages.py): the fan's ticket page and the gate scanner.

Plain HTML, CSS and ES modules, no build step; the two npm libraries they use are copied into `vendor/` by
`python -m gateway.static.vendor` (committed, so the gateway needs no Node at run time).
"""
