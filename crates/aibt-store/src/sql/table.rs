//! A table's metadata and the INSERT, SELECT and UPDATE made from its columns.

use std::sync::OnceLock;

use super::dialect::Dialect;

/// One table (or the part of one that a statement reads or writes): its name, what its
/// errors call a row, and its columns, key first.
pub struct Table {
    pub name: &'static str,
    pub entity: &'static str,
    pub columns: &'static [&'static str],
    /// The statements in each dialect, made on first use.
    statements: [OnceLock<TableSql>; 2],
}

impl Table {
    pub const fn new(
        name: &'static str,
        entity: &'static str,
        columns: &'static [&'static str],
    ) -> Table {
        Table {
            name,
            entity,
            columns,
            statements: [OnceLock::new(), OnceLock::new()],
        }
    }

    /// The key column (the first).
    pub fn key(&self) -> &'static str {
        self.columns[0]
    }

    /// The name of column `index`, for errors.
    pub fn column(&self, index: usize) -> &'static str {
        self.columns.get(index).copied().unwrap_or("?")
    }

    /// The INSERT, SELECT and UPDATE of this table in `dialect`.
    pub fn sql(&self, dialect: Dialect) -> &TableSql {
        self.statements[dialect as usize]
            .get_or_init(|| TableSql::new(self.name, self.columns, dialect.marker()))
    }
}

/// `INSERT INTO t (c1, …) VALUES (m1, …)`, `SELECT c1, … FROM t` and
/// `UPDATE t SET c2 = m2, … WHERE c1 = m1` (the first column is the key), where `m` is the
/// backend's parameter marker.
pub struct TableSql {
    pub insert: String,
    pub select: String,
    pub update: String,
}

impl TableSql {
    pub fn new(table: &str, columns: &[&str], marker: char) -> TableSql {
        let param = |i: usize| format!("{marker}{}", i + 1);
        let placeholders: Vec<String> = (0..columns.len()).map(param).collect();
        let sets: Vec<String> = columns
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("{c} = {}", param(i)))
            .collect();
        TableSql {
            insert: format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                columns.join(", "),
                placeholders.join(", ")
            ),
            select: format!("SELECT {} FROM {table}", columns.join(", ")),
            update: format!(
                "UPDATE {table} SET {} WHERE {} = {}",
                sets.join(", "),
                columns[0],
                param(0)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_use_the_backends_marker_in_column_order() {
        let sql = TableSql::new("t", &["id", "a", "b"], '$');
        assert_eq!(sql.insert, "INSERT INTO t (id, a, b) VALUES ($1, $2, $3)");
        assert_eq!(sql.select, "SELECT id, a, b FROM t");
        assert_eq!(sql.update, "UPDATE t SET a = $2, b = $3 WHERE id = $1");
        assert_eq!(
            TableSql::new("t", &["id"], '?').insert,
            "INSERT INTO t (id) VALUES (?1)"
        );
    }
}
