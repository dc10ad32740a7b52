"""On PostgreSQL the database itself refuses to change or remove a ledger row.

TRUNCATE is left to the table owner (test databases are emptied with it)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION giftcards_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'giftcards_transaction is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS giftcards_transaction_append_only ON giftcards_transaction;
CREATE TRIGGER giftcards_transaction_append_only
    BEFORE UPDATE OR DELETE ON giftcards_transaction
    FOR EACH ROW EXECUTE FUNCTION giftcards_ledger_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS giftcards_transaction_append_only ON giftcards_transaction;
DROP FUNCTION IF EXISTS giftcards_ledger_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("giftcards", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
