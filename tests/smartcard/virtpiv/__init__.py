"""A virtual PIV card (NIST SP 800-73-4, the part OpenSC 0.23's PIV driver uses) behind vpcd."""
