use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{import_task_runs, import_tasks};

/// A background ClickBank import and its cursor.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = import_tasks)]
pub struct ImportTask {
    pub id: i64,
    pub kind: String,
    pub plugin_id: i64,
    pub state: String,
    pub days_back: i32,
    pub ship_cutoff_days: Option<i32>,
    pub range_start: Option<String>,
    pub range_end: Option<String>,
    pub cursor_day: Option<String>,
    pub cursor_page: i32,
    pub windows_total: i32,
    pub windows_done: i32,
    pub imported: i64,
    pub skipped: i64,
    pub errors: i64,
    pub interval_minutes: i32,
    pub next_run_at: Option<NaiveDateTime>,
    pub last_run_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub locked_until: Option<NaiveDateTime>,
    pub locked_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl ImportTask {
    /// Percent of day windows done (0..=100).
    pub fn percent(&self) -> i32 {
        if self.windows_total <= 0 {
            return if self.state == "done" { 100 } else { 0 };
        }
        (self.windows_done * 100 / self.windows_total).clamp(0, 100)
    }

    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "initial_orders" => "Initial order import",
            "continuous_orders" => "Continuous order import",
            _ => "Product import",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = import_task_runs)]
pub struct ImportTaskRun {
    pub id: i64,
    pub task_id: i64,
    pub runner: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub pages: i32,
    pub imported: i64,
    pub skipped: i64,
    pub outcome: Option<String>,
}
