use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{import_task_runs, import_tasks};
use crate::db::text::text_enum;

text_enum! {
    /// Where an import task is in its life. The moves staff may make are [`TaskAction::move_from`];
    /// the runner moves a task from `queued` to `running` (its claim) and then ends a run in
    /// `queued` (more to do later), `done` or `failed`.
    pub enum TaskState {
        Queued = "queued",
        Running = "running",
        Paused = "paused",
        Done = "done",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl TaskState {
    /// States a runner may claim a task in.
    pub const CLAIMABLE: [TaskState; 2] = [TaskState::Queued, TaskState::Running];
    /// States in which a task still has work ahead of it (one initial import per plugin at a time).
    pub const UNDER_WAY: [TaskState; 3] = [TaskState::Queued, TaskState::Running, TaskState::Paused];

    pub fn is_claimable(self) -> bool {
        Self::CLAIMABLE.contains(&self)
    }
}

text_enum! {
    /// What an import task reads from ClickBank.
    pub enum TaskKind {
        InitialOrders = "initial_orders",
        ContinuousOrders = "continuous_orders",
        Products = "products",
        /// One ClickBank day read again ("Re-import this day" on Reconciliation).
        DayOrders = "day_orders",
    }
}

impl TaskKind {
    pub fn label(self) -> &'static str {
        match self {
            TaskKind::InitialOrders => "Initial order import",
            TaskKind::ContinuousOrders => "Continuous order import",
            TaskKind::Products => "Product import",
            TaskKind::DayOrders => "Re-import of one day",
        }
    }
}

text_enum! {
    /// What an account executive may do to a task from Admin → Import tasks (the URL's last
    /// segment).
    pub enum TaskAction {
        RunNow = "run_now",
        Pause = "pause",
        Resume = "resume",
        Cancel = "cancel",
    }
}

impl TaskAction {
    /// The one table of staff moves: the state `action` takes a `kind` task in `from` to, or
    /// `None` when the action does not apply there. Only an initial import or a day's
    /// re-import can be cancelled (the continuous one is the plugin's lifeline; a product
    /// import is over in one run).
    pub fn move_from(self, kind: TaskKind, from: TaskState) -> Option<TaskState> {
        use TaskState::*;
        match (self, from) {
            (TaskAction::Pause, Queued | Running) => Some(Paused),
            (TaskAction::Resume, Paused | Failed) => Some(Queued),
            (TaskAction::Cancel, Queued | Running | Paused | Failed)
                if matches!(kind, TaskKind::InitialOrders | TaskKind::DayOrders) =>
            {
                Some(Cancelled)
            }
            (TaskAction::RunNow, Queued | Running | Failed) => Some(Queued),
            _ => None,
        }
    }

    /// The action in words ("run now").
    pub fn words(self) -> String {
        self.as_str().replace('_', " ")
    }

    /// The button's label.
    pub fn label(self) -> &'static str {
        match self {
            TaskAction::RunNow => "Run now",
            TaskAction::Pause => "Pause",
            TaskAction::Resume => "Resume",
            TaskAction::Cancel => "Cancel",
        }
    }

    /// The question asked before an action that cannot be taken back.
    pub fn confirm(self) -> Option<&'static str> {
        (self == TaskAction::Cancel).then_some("Cancel this import? What it imported stays.")
    }
}

/// A background ClickBank import and its cursor.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = import_tasks)]
pub struct ImportTask {
    pub id: i64,
    pub kind: TaskKind,
    pub plugin_id: i64,
    pub state: TaskState,
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
    /// Records that landed on an order whose sale is not seen yet (counted apart from
    /// `imported`).
    pub awaiting_sale: i64,
}

impl ImportTask {
    /// Percent of day windows done (0..=100).
    pub fn percent(&self) -> i32 {
        if self.windows_total <= 0 {
            return if self.state == TaskState::Done { 100 } else { 0 };
        }
        (self.windows_done * 100 / self.windows_total).clamp(0, 100)
    }

    pub fn kind_label(&self) -> &'static str {
        self.kind.label()
    }

    /// What staff may do to this task now (the page shows a button for each).
    pub fn actions(&self) -> Vec<TaskAction> {
        TaskAction::ALL
            .iter()
            .copied()
            .filter(|a| a.move_from(self.kind, self.state).is_some())
            .collect()
    }

    pub fn is_initial(&self) -> bool {
        self.kind == TaskKind::InitialOrders
    }

    /// A re-import of one ClickBank day (from Reconciliation).
    pub fn is_day(&self) -> bool {
        self.kind == TaskKind::DayOrders
    }

    pub fn is_continuous(&self) -> bool {
        self.kind == TaskKind::ContinuousOrders
    }

    /// Queued or running: the next run time means something.
    pub fn is_claimable(&self) -> bool {
        self.state.is_claimable()
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
