pub mod data;
pub mod db;
