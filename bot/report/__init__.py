"""`sportello report`: what users asked, where the bot fell short, as one self-contained HTML page and CSV."""
