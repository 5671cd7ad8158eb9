"""NDES (IIS + mscep.dll) and the policy module loaded into it.

It will serve `/certsrv/mscep/mscep.dll` (RFC 8894 with NDES's quirks) and `/certsrv/mscep_admin/`,
hold the two RA certificates, map key usage to templates, and ask its policy module (one-time
passwords, or the Intune module) before submitting to the CA as enrolment agent.
Not built yet: see issue 3.
"""
