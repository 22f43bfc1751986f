//! Task dumps: the live tasks of a runtime, as a value and as a table.

use std::fmt;
use std::panic::Location;
use std::sync::Arc as StdArc;
use std::time::Duration;

use crate::task::{Id, TaskState};

/// The live tasks of a runtime at one moment, sorted by id; see
/// [`Handle::dump`](crate::Handle::dump). `Display` prints a table.
///
/// A dump is taken shard by shard of the runtime's task list while the
/// workers go on running, so it is not one atomic picture: a task that
/// completes or is spawned meanwhile may or may not appear, but every task
/// live for the whole call appears exactly once.
///
/// # Examples
///
/// ```
/// use weft_scheduler::task::TaskState;
///
/// fn stuck(dump: &weft_scheduler::Dump) -> usize {
///     dump.tasks()
///         .iter()
///         .filter(|task| task.state() == TaskState::Running && task.polls() == 1)
///         .count()
/// }
/// # let _ = stuck;
/// ```
#[derive(Clone, Debug)]
pub struct Dump {
    pub(crate) tasks: Vec<TaskDump>,
}

impl Dump {
    /// The tasks, sorted by id.
    pub fn tasks(&self) -> &[TaskDump] {
        &self.tasks
    }
}

/// One live task in a [`Dump`].
#[derive(Clone, Debug)]
pub struct TaskDump {
    pub(crate) id: Id,
    pub(crate) name: Option<StdArc<str>>,
    pub(crate) location: &'static Location<'static>,
    pub(crate) state: TaskState,
    pub(crate) age: Duration,
    pub(crate) polls: u64,
}

impl TaskDump {
    /// The task's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The task's name, if it was spawned with one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the task was spawned (the caller of `spawn`).
    pub fn spawn_location(&self) -> &'static Location<'static> {
        self.location
    }

    /// What the task was doing when the dump saw it.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// How long ago the task was spawned, give or take the coarse clock
    /// spawns read: it may read high by up to one stall-watchdog period
    /// (a quarter of the stall threshold, 25 ms by default). With the stall
    /// detector off, by up to the time an awake worker takes for
    /// `event_interval` polls, which a poll that blocks makes as long as it
    /// blocks.
    pub fn age(&self) -> Duration {
        self.age
    }

    /// How many polls of the task have finished (saturating at 2^31 - 1);
    /// a running task is in poll number `polls() + 1`.
    pub fn polls(&self) -> u64 {
        self.polls
    }
}

impl fmt::Display for Dump {
    /// A table: one line per task, columns id, state, age, polls, name and
    /// spawn location, and a count by state at the end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_width = self
            .tasks
            .iter()
            .filter_map(|task| task.name.as_deref())
            .map(|name| name.chars().count())
            .max()
            .unwrap_or(0)
            .max("name".len());
        writeln!(
            f,
            "{:>8}  {:<15}  {:>8}  {:>8}  {:<name_width$}  spawned at",
            "id", "state", "age", "polls", "name"
        )?;
        for task in &self.tasks {
            writeln!(
                f,
                "{:>8}  {:<15}  {:>8}  {:>8}  {:<name_width$}  {}",
                task.id,
                task.state.to_string(),
                format_age(task.age),
                task.polls,
                task.name.as_deref().unwrap_or("-"),
                task.location,
            )?;
        }
        let count = |state| self.tasks.iter().filter(|task| task.state == state).count();
        write!(
            f,
            "{} tasks: {} running, {} scheduled, {} idle, {} waiting on join",
            self.tasks.len(),
            count(TaskState::Running),
            count(TaskState::Scheduled),
            count(TaskState::Idle),
            count(TaskState::WaitingOnJoin),
        )
    }
}

/// `950ms`, `12.3s`, `2h05m`.
fn format_age(age: Duration) -> String {
    let ms = age.as_millis();
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 600_000 {
        format!("{:.1}s", age.as_secs_f64())
    } else {
        let minutes = age.as_secs() / 60;
        format!("{}h{:02}m", minutes / 60, minutes % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::format_age;
    use std::time::Duration;

    #[test]
    fn ages_read_well() {
        assert_eq!(format_age(Duration::from_millis(950)), "950ms");
        assert_eq!(format_age(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(format_age(Duration::from_secs(7_500)), "2h05m");
    }
}
