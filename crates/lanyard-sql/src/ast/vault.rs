//! `VAULT` / `CREDENTIAL` statements (DeltaForge dialect). The two keywords name the same object.

use lanyard_core::{Name, SecretString};

use super::{PointInTime, Printer, ToSql};

/// Which of the two interchangeable keywords the statement was written with; kept so printing is faithful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VaultNoun {
    /// `VAULT` / `VAULTS`
    Vault,
    /// `CREDENTIAL` / `CREDENTIALS`
    Credential,
}

impl VaultNoun {
    pub(super) fn singular(self) -> &'static str {
        match self {
            Self::Vault => "VAULT",
            Self::Credential => "CREDENTIAL",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Self::Vault => "VAULTS",
            Self::Credential => "CREDENTIALS",
        }
    }
}

/// `TYPE = { ENCRYPTION_KEY | CREDENTIAL }`: the closed list of entry types, shared with the catalog and the wire.
pub use lanyard_core::EntryType;

/// Where an entry's material comes from. The three forms are mutually exclusive by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// `SECRET '…'`: the caller's value, written to the backend, never to the catalog.
    Secret(SecretString),
    /// `GENERATE`: fresh CSPRNG key material (ENCRYPTION_KEY only).
    Generate,
    /// `LINKED EXTERNAL SECRET '…'`: a pointer to a secret already in the backend (not secret itself).
    LinkedExternal(String),
}

/// `CREATE { VAULT | CREDENTIAL } [IF NOT EXISTS] name TYPE = t [ALGORITHM '…'] [KEY_SIZE n]
/// [SECRET '…' | GENERATE | LINKED EXTERNAL SECRET '…'] [IN CREDENTIAL STORAGE b] [DESCRIPTION '…'] [EXPIRES '…']`
#[derive(Debug, Clone, PartialEq)]
pub struct CreateVault {
    /// The keyword used.
    pub noun: VaultNoun,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The entry's display name.
    pub name: Name,
    /// `TYPE = …`.
    pub entry_type: EntryType,
    /// `ALGORITHM '…'`, metadata only.
    pub algorithm: Option<String>,
    /// `KEY_SIZE n` in bits, metadata (and the size for GENERATE).
    pub key_size: Option<u32>,
    /// `SECRET` / `GENERATE` / `LINKED EXTERNAL SECRET`: one is required (an entry without material could never be
    /// resolved).
    pub material: Material,
    /// `IN CREDENTIAL STORAGE b`; the seeded local backend when absent.
    pub storage: Option<Name>,
    /// `DESCRIPTION '…'`.
    pub description: Option<String>,
    /// `EXPIRES '<ISO 8601 timestamp>'`, advisory.
    pub expires: Option<String>,
}

impl ToSql for CreateVault {
    fn print(&self, p: &mut Printer) {
        p.kw("CREATE");
        p.kw(self.noun.singular());
        p.kw_if(self.if_not_exists, "IF NOT EXISTS");
        p.name(&self.name);
        p.kw("TYPE =");
        p.kw(self.entry_type.as_str());
        p.optional("ALGORITHM", self.algorithm.as_deref(), Printer::string);
        p.optional("KEY_SIZE", self.key_size.as_ref(), Printer::number);
        match &self.material {
            Material::Secret(secret) => {
                p.kw("SECRET");
                p.secret(secret);
            }
            Material::Generate => p.kw("GENERATE"),
            Material::LinkedExternal(external) => {
                p.kw("LINKED EXTERNAL SECRET");
                p.string(external);
            }
        }
        p.optional("IN CREDENTIAL STORAGE", self.storage.as_ref(), Printer::name);
        p.optional("DESCRIPTION", self.description.as_deref(), Printer::string);
        p.optional("EXPIRES", self.expires.as_deref(), Printer::string);
    }
}

/// `ALTER { VAULT | CREDENTIAL } [IF EXISTS] name action [action …]`
#[derive(Debug, Clone, PartialEq)]
pub struct AlterVault {
    /// The keyword used.
    pub noun: VaultNoun,
    /// `IF EXISTS`.
    pub if_exists: bool,
    /// The entry to change.
    pub name: Name,
    /// At least one action, in written order.
    pub actions: Vec<AlterVaultAction>,
}

/// One action of `ALTER VAULT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterVaultAction {
    /// `ROTATE`: new generated material (ENCRYPTION_KEY only).
    Rotate,
    /// `SET SECRET '…'`: replace the material (CREDENTIAL only).
    SetSecret(SecretString),
    /// `SET DESCRIPTION '…'`
    SetDescription(String),
    /// `SET EXPIRES '…'`
    SetExpires(String),
    /// `RENAME TO new_name`
    RenameTo(Name),
    /// `ROLLBACK TO VERSION n` (Lanyard extension), n ≥ 1: restores version n's definition as a new version; for a
    /// credential also its material, on the local vault only and while that version is kept.
    RollbackToVersion(i64),
}

impl ToSql for AlterVaultAction {
    fn print(&self, p: &mut Printer) {
        match self {
            Self::Rotate => p.kw("ROTATE"),
            Self::SetSecret(secret) => p.clause("SET SECRET", secret, Printer::secret),
            Self::SetDescription(description) => p.clause("SET DESCRIPTION", description.as_str(), Printer::string),
            Self::SetExpires(expires) => p.clause("SET EXPIRES", expires.as_str(), Printer::string),
            Self::RenameTo(name) => p.clause("RENAME TO", name, Printer::name),
            Self::RollbackToVersion(n) => p.clause("ROLLBACK TO VERSION", n, Printer::version),
        }
    }
}

impl ToSql for AlterVault {
    fn print(&self, p: &mut Printer) {
        p.kw("ALTER");
        p.kw(self.noun.singular());
        p.kw_if(self.if_exists, "IF EXISTS");
        p.name(&self.name);
        p.all(&self.actions);
    }
}

name_only_statement!(
    /// `DROP { VAULT | CREDENTIAL } [IF EXISTS] name`
    DropVault,
    "DROP" noun,
    "entry to drop"
);
name_only_statement!(
    /// `DESCRIBE { VAULT | CREDENTIAL } [IF EXISTS] name [AT <point>]`
    DescribeVault,
    "DESCRIBE" noun,
    "entry to describe",
    at
);

/// `SHOW { VAULTS | CREDENTIALS } [LIKE 'pattern']`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowVaults {
    /// The keyword used.
    pub noun: VaultNoun,
    /// The case-insensitive substring filter.
    pub like: Option<String>,
}

impl ToSql for ShowVaults {
    fn print(&self, p: &mut Printer) {
        p.kw("SHOW");
        p.kw(self.noun.plural());
        p.optional("LIKE", self.like.as_deref(), Printer::string);
    }
}
