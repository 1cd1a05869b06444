pub mod backtest;
pub mod data;
pub mod db;
pub mod task;
