"""HTTP: the CA's API (`/ca/...`), its public PKI downloads (`/pki/...`) and `/health`."""
