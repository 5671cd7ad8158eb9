"""Code every party of the lab uses: the SCEP/CMS codec, PKI helpers, wire models.

`shared` imports no party; parties import `shared` and themselves only.
"""
