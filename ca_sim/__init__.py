"""The enterprise PKI (AD CS-like): an offline root and an issuing CA, as a party of its own.

It owns certificate templates, the CA database (requests with their dispositions and HRESULTs,
issued and revoked certificates) and CRLs, and serves `POST /ca/submit` (from NDES, countersigned
by its enrolment-agent certificate), request status, approve/deny of pending requests, revoke
(from the connector), and the CA certificates and CRLs (AIA, CDP) under `/pki/`.

    create_app(settings) → routes (routes/) → CaService (service) → policy, authority, crl
                                                            └→ CaStore (records) ← SqlCaStore
"""
