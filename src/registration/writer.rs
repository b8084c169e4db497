//! SQLite: registrations are written by one task, in groups. SQLite lets one
//! writer in at a time, and connections racing for its lock sleep in its busy
//! handler (1, 2, 5 … 100 ms a try) while the lock sits free. One writer
//! queues them instead, and writes every registration waiting at that moment
//! in one transaction (group commit): `BEGIN` and `COMMIT` are paid once per
//! group, and each answer waits for its group's commit. Registrations for a
//! webinar with a seat limit are written one at a time, so a full webinar
//! undoes only its own. Postgres does not need this: row locks let
//! registrations write side by side.
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::{mpsc, oneshot};

use crate::DomainError;
use crate::registration::{self, NewRegistration, RegistrationOutcome};

/// The most registrations one transaction writes.
const MOST_IN_A_GROUP: usize = 64;
/// Registrations waiting for the writer before senders wait too.
const QUEUE: usize = 1024;

type Reply = oneshot::Sender<Result<RegistrationOutcome, DomainError>>;

#[derive(Clone)]
pub struct RegistrationWriter {
    queue: mpsc::Sender<(NewRegistration, Reply)>,
}

impl RegistrationWriter {
    /// Starts the writing task (call it inside the runtime); it ends when the
    /// last handle is dropped.
    pub fn start(db: DatabaseConnection) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(write_until_closed(db, waiting));
        Self { queue }
    }

    /// Writes `new` with the group it joins; answers after their commit.
    pub async fn register(&self, new: NewRegistration) -> Result<RegistrationOutcome, DomainError> {
        let stopped = || DomainError::from(DbErr::Custom("the registration writer stopped".into()));
        let (reply, answer) = oneshot::channel();
        self.queue.send((new, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_until_closed(db: DatabaseConnection, mut waiting: mpsc::Receiver<(NewRegistration, Reply)>) {
    let mut taken = Vec::with_capacity(MOST_IN_A_GROUP);
    // Takes whatever is waiting (at least one), never waits for more.
    while waiting.recv_many(&mut taken, MOST_IN_A_GROUP).await > 0 {
        let (alone, together): (Vec<_>, Vec<_>) = taken.drain(..).partition(|(new, _)| new.counts_seats());
        for (new, reply) in alone {
            // The asker may have gone (a dropped request): nobody to tell.
            let _ = reply.send(registration::write_alone(&db, new).await);
        }
        write_group(&db, together).await;
    }
}

async fn write_group(db: &DatabaseConnection, group: Vec<(NewRegistration, Reply)>) {
    let (news, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
    if news.len() > 1 {
        match registration::write_together(db, &news).await {
            Ok(written) => {
                for ((new, reply), written) in news.into_iter().zip(replies).zip(written) {
                    let _ = reply.send(registration::outcome(db, new, written).await);
                }
                return;
            }
            // One registration's failure must not fail the others: each is
            // written again alone and answers with its own outcome.
            Err(error) => {
                tracing::warn!(%error, registrations = news.len(), "a group commit failed; writing each alone")
            }
        }
    }
    for (new, reply) in news.into_iter().zip(replies) {
        let _ = reply.send(registration::write_alone(db, new).await);
    }
}
