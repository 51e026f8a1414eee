"""Refuse a bad service name before cookiecutter writes anything (plain `cookiecutter` use)."""

import re
import sys

NAME = "{{ cookiecutter.service }}"

if not re.fullmatch(r"[a-z][a-z0-9-]{1,38}[a-z0-9]", NAME):
    print(f"error: '{NAME}' is not a valid service name: use 3-40 lower-case letters, digits and '-', starting with a letter")
    sys.exit(1)
