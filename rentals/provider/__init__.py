"""Everything that knows SMS.online's wire format. Nothing here touches the database."""
