"""Every way the hipdx model is served: HTTP (Flask + CDS Hooks), batch scoring, the CLI.

These are thin adapters: parse input, call :mod:`model`, format output.
"""
