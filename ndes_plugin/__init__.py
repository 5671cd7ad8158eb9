"""NDES (IIS + mscep.dll) and the policy module loaded into it.

Serves `/certsrv/mscep/mscep.dll` (RFC 8894 with NDES's quirks) and `/certsrv/mscep_admin/`,
holds the two RA certificates, maps key usage to templates, and asks its policy module (no
password, one-time passwords; the Intune module later) before submitting to the CA as enrolment
agent. `create_app(settings)` in `app`; `python -m ndes_plugin` runs it alone. See README.md.
"""
