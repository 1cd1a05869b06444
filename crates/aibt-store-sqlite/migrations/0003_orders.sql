-- aibt schema, version 3: orders beyond "now". docs/schema.md lists these columns with their
-- reasons.

-- Costs beside the fees: slippage moves every fill against the trader (a fraction of the
-- price), and a yearly borrow rate is charged on the market value of shorts.
ALTER TABLE virtual_accounts ADD COLUMN slippage ANY NOT NULL DEFAULT '0.000000' CHECK (typeof(slippage) = 'text');
ALTER TABLE virtual_accounts ADD COLUMN borrow_rate ANY NOT NULL DEFAULT '0.000000' CHECK (typeof(borrow_rate) = 'text');

-- What closed a position, on each closing record: a decision (SIGNAL), the position's stop,
-- target or trailing stop, a margin call, or the end of a task that ends flat.
ALTER TABLE trade_records ADD COLUMN exit_reason TEXT DEFAULT NULL CHECK (exit_reason IS NULL OR exit_reason IN ('SIGNAL', 'STOP_LOSS', 'TAKE_PROFIT', 'TRAILING_STOP', 'MARGIN_CALL', 'END'));
