//! Choosing a store from the command line: the embedded SQLite file by
//! default, or DynamoDB (a deployment's table, or a local endpoint).

use std::path::PathBuf;

use ferry_store::StoreError;
use ferry_store::dynamodb::DynamoStore;
use ferry_store::sqlite::SqliteStore;

#[derive(Clone, Debug, clap::Args)]
pub struct StoreArgs {
    /// Directory of the embedded store (used unless --table is given).
    #[arg(long, env = "FERRY_DATA_DIR", default_value = ".ferry")]
    pub data_dir: PathBuf,
    /// Use this DynamoDB table instead of the embedded store.
    #[arg(long, env = "FERRY_TABLE_NAME")]
    pub table: Option<String>,
    /// A DynamoDB-compatible endpoint (e.g. a local moto_server); implies
    /// dummy credentials and creates the table if it is missing.
    #[arg(long, requires = "table")]
    pub dynamodb_endpoint: Option<String>,
}

pub enum AnyStore {
    Sqlite(SqliteStore),
    Dynamo(DynamoStore),
}

impl StoreArgs {
    pub async fn open(&self) -> Result<AnyStore, StoreError> {
        match (&self.table, &self.dynamodb_endpoint) {
            (Some(table), Some(endpoint)) => {
                let store = DynamoStore::local(endpoint, table.clone()).await;
                store.ensure_table().await?;
                Ok(AnyStore::Dynamo(store))
            }
            (Some(table), None) => Ok(AnyStore::Dynamo(DynamoStore::from_env(table.clone()).await)),
            (None, _) => Ok(AnyStore::Sqlite(SqliteStore::open(&self.database_path()?)?)),
        }
    }

    /// The embedded database file (its directory created if missing): the
    /// store's tables unless `--table` is given, and the local queues always.
    pub fn database_path(&self) -> Result<PathBuf, StoreError> {
        std::fs::create_dir_all(&self.data_dir).map_err(StoreError::backend)?;
        Ok(self.data_dir.join("ferry.db"))
    }

    pub fn describe(&self) -> String {
        match (&self.table, &self.dynamodb_endpoint) {
            (Some(table), Some(endpoint)) => format!("DynamoDB table {table} at {endpoint}"),
            (Some(table), None) => format!("DynamoDB table {table}"),
            (None, _) => format!("embedded store {}", self.data_dir.join("ferry.db").display()),
        }
    }
}

/// Runs `body` with whichever store was chosen.
#[macro_export]
macro_rules! with_store {
    ($any:expr, |$store:ident| $body:expr) => {
        match $any {
            $crate::stores::AnyStore::Sqlite($store) => $body,
            $crate::stores::AnyStore::Dynamo($store) => $body,
        }
    };
}
