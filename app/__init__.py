"""ParsDesk: offline-first reporting of learner completions to ACCME PARS."""

__version__ = "0.1.0"
