"""The enterprise PKI (AD CS-like): an offline root and an issuing CA.

It will own templates, the CA database (requests, dispositions, issued and revoked certificates)
and CRLs, and serve submit (from NDES, countersigned by its enrolment-agent certificate), revoke,
and CRL and CA-certificate download (CDP/AIA). Not built yet: see issue 3.
"""
