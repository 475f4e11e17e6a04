//! First-boot steps (`[[firstboot]]` in layer.toml): clic writes the list
//! the runner reads (`/etc/clic/firstboot-steps`) and one systemd unit per
//! step, chained in order: each runs at every boot until its step has
//! succeeded once, and a step whose predecessor failed waits for the next
//! boot. The runner (`/usr/lib/clic/clic-step`, layer firstboot) records
//! each attempt under /var/lib/clic/firstboot/ and writes the status the
//! portal's "about" page includes.

use std::fs;
use std::path::Path;

use super::units::{self, UnitError};
use crate::spec::layer::{LoadedLayer, PORTAL_LANGS};

pub const STEPS_FILE: &str = "etc/clic/firstboot-steps";
pub const UNIT_DIR: &str = "etc/systemd/system";
pub const STATE_DIR: &str = "/var/lib/clic/firstboot";

/// One step, in run order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// `<layer>-<name>`.
    pub id: String,
    pub title_fr: String,
    pub title_en: String,
    pub run: String,
    pub network: bool,
    pub timeout_minutes: u32,
}

impl Step {
    pub fn unit(&self) -> String {
        format!("clic-step-{}.service", self.id)
    }
}

/// The steps of the image's layers, in layer order then declaration order.
pub fn steps(layers: &[LoadedLayer]) -> Vec<Step> {
    layers
        .iter()
        .flat_map(|l| {
            l.def.firstboot.iter().map(move |s| {
                let fr = s.title.get(PORTAL_LANGS[0]).cloned().unwrap_or_default();
                Step {
                    id: format!("{}-{}", l.name, s.name.get_ref()),
                    title_en: s.title.get("en").cloned().unwrap_or_else(|| fr.clone()),
                    title_fr: fr,
                    run: s.run.get_ref().clone(),
                    network: s.network,
                    timeout_minutes: s.timeout_minutes,
                }
            })
        })
        .collect()
}

/// `/etc/clic/firstboot-steps`: one step a line, tab-separated: id,
/// network (0/1), French title, English title, command (pure).
pub fn steps_file(steps: &[Step]) -> String {
    let mut s = String::from(
        "# Written by clic: the first-boot steps of this image, in order, read by\n# /usr/lib/clic/clic-step. id<TAB>network<TAB>title fr<TAB>title en<TAB>command\n",
    );
    for st in steps {
        s.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            st.id,
            u8::from(st.network),
            st.title_fr,
            st.title_en,
            st.run
        ));
    }
    s
}

/// The unit of `step`, after `previous` (pure).
pub fn unit_text(step: &Step, previous: Option<&Step>) -> String {
    // `%` starts a systemd specifier.
    let title = step.title_en.replace('%', "%%");
    let mut after = vec!["clic-firstboot.service".to_owned()];
    if step.network {
        after.push("network.target".into());
    }
    let mut requires = String::new();
    if let Some(p) = previous {
        after.push(p.unit());
        // A step whose predecessor failed at this boot does not run; both
        // are tried again at the next boot.
        requires = format!("Requires={}\n", p.unit());
    }
    format!(
        "# Written by clic: first-boot step `{id}`. It runs at each boot until it\n\
         # has succeeded once ({dir}/{id}.done); see /usr/lib/clic/clic-step.\n\
         [Unit]\n\
         Description=CLIC! first-boot step {id}: {title}\n\
         ConditionPathExists=!{dir}/{id}.done\n\
         After={after}\n\
         {requires}\
         \n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n\
         ExecStart=/usr/lib/clic/clic-step run {id}\n\
         TimeoutStartSec={timeout}min\n\
         StandardOutput=journal+console\n\
         StandardError=journal+console\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        id = step.id,
        dir = STATE_DIR,
        after = after.join(" "),
        timeout = step.timeout_minutes,
    )
}

/// Write the steps file and the units into the image tree and enable them.
pub fn install(root: &Path, steps: &[Step]) -> Result<(), UnitError> {
    if steps.is_empty() {
        return Ok(());
    }
    let io = |unit: &str| {
        let unit = unit.to_owned();
        move |source| UnitError::Io { unit, source }
    };
    let list = root.join(STEPS_FILE);
    if let Some(dir) = list.parent() {
        fs::create_dir_all(dir).map_err(io(STEPS_FILE))?;
    }
    fs::write(&list, steps_file(steps)).map_err(io(STEPS_FILE))?;
    let dir = root.join(UNIT_DIR);
    fs::create_dir_all(&dir).map_err(io(UNIT_DIR))?;
    for (i, s) in steps.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| &steps[p]);
        fs::write(dir.join(s.unit()), unit_text(s, prev)).map_err(io(&s.unit()))?;
        units::enable(root, &s.unit())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, network: bool) -> Step {
        Step {
            id: id.into(),
            title_fr: "Installer 100% de X".into(),
            title_en: "Install 100% of X".into(),
            run: "/usr/bin/x --y".into(),
            network,
            timeout_minutes: 30,
        }
    }

    #[test]
    fn units_are_chained_and_run_until_done() {
        let a = step("yunohost-postinstall", true);
        let b = step("yunohost-apps", true);
        let first = unit_text(&a, None);
        assert!(
            first
                .contains("ConditionPathExists=!/var/lib/clic/firstboot/yunohost-postinstall.done"),
            "{first}"
        );
        assert!(first.contains("ExecStart=/usr/lib/clic/clic-step run yunohost-postinstall"));
        assert!(first.contains("After=clic-firstboot.service network.target\n"));
        assert!(!first.contains("Requires="));
        assert!(
            first.contains("Install 100%% of X"),
            "specifiers escaped: {first}"
        );
        assert!(first.contains("TimeoutStartSec=30min"));
        let second = unit_text(&b, Some(&a));
        assert!(second.contains("After=clic-firstboot.service network.target clic-step-yunohost-postinstall.service\n"), "{second}");
        assert!(second.contains("Requires=clic-step-yunohost-postinstall.service\n"));
        assert_eq!(
            crate::layers::units::parse_install(&second).wanted_by,
            ["multi-user.target"]
        );
    }

    #[test]
    fn the_steps_file_is_one_tab_separated_line_each() {
        let f = steps_file(&[step("a-one", false), step("b-two", true)]);
        let lines: Vec<&str> = f.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "a-one\t0\tInstaller 100% de X\tInstall 100% of X\t/usr/bin/x --y",
                "b-two\t1\tInstaller 100% de X\tInstall 100% of X\t/usr/bin/x --y"
            ]
        );
    }

    #[test]
    fn install_writes_and_enables_units() {
        let root = tempfile::tempdir().unwrap();
        install(root.path(), &[step("a-one", false), step("a-two", false)]).unwrap();
        assert!(root.path().join(STEPS_FILE).is_file());
        for u in ["clic-step-a-one.service", "clic-step-a-two.service"] {
            let link = root
                .path()
                .join("etc/systemd/system/multi-user.target.wants")
                .join(u);
            assert!(link.is_symlink(), "{u} enabled");
        }
        let empty = tempfile::tempdir().unwrap();
        install(empty.path(), &[]).unwrap();
        assert!(!empty.path().join(STEPS_FILE).exists());
    }
}
