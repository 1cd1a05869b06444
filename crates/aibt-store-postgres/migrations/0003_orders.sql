-- aibt schema, version 3 (PostgreSQL): orders beyond "now". docs/schema.md lists these
-- columns with their reasons.

ALTER TABLE virtual_accounts
    ADD COLUMN slippage NUMERIC(10,6) NOT NULL DEFAULT 0,
    ADD COLUMN borrow_rate NUMERIC(10,6) NOT NULL DEFAULT 0;

ALTER TABLE trade_records
    ADD COLUMN exit_reason VARCHAR DEFAULT NULL
        CHECK (exit_reason IS NULL OR exit_reason IN
            ('SIGNAL', 'STOP_LOSS', 'TAKE_PROFIT', 'TRAILING_STOP', 'MARGIN_CALL', 'END'));
