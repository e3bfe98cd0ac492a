"""The Telegram bot: the only place that knows python-telegram-bot."""
