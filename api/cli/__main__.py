"""`python -m api.cli`: how `wepos serve` starts its worker processes (api.supervisor)."""

from api.cli import main

if __name__ == "__main__":
    main()
