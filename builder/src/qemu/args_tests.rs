//! The argument lists are pinned as values: a change here is a change in
//! how every image is booted.

use super::*;

fn profile(toml_text: &str) -> QemuProfile {
    toml::from_str(toml_text).unwrap()
}

fn x86_64() -> QemuProfile {
    profile(
        r#"
        system = "x86_64"
        machine = "pc"
        memory = "1G"
        smp = 2
        firmware = ["bios", "uefi"]
        drive = "virtio"
        nic = "virtio-net-pci"
        "#,
    )
}

fn strings(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn command(p: &QemuProfile, o: &BootOptions) -> (String, Vec<String>) {
    let (program, args) = qemu_command(p, o).unwrap();
    (program, strings(&args))
}

const COMMON: [&str; 14] = [
    "-machine",
    "pc",
    "-accel",
    "tcg",
    "-m",
    "1G",
    "-smp",
    "2",
    "-nographic",
    "-monitor",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
];

fn with_common(rest: &[&str]) -> Vec<String> {
    COMMON.iter().chain(rest).map(|s| s.to_string()).collect()
}

#[test]
fn x86_64_bios() {
    let mut o = BootOptions::new("/out/clic-amd64.img", Firmware::Bios);
    o.forwards = vec![
        Forward::parse("8080:80").unwrap(),
        Forward::parse("127.0.0.1:2222:22").unwrap(),
    ];
    let (program, args) = command(&x86_64(), &o);
    assert_eq!(program, "qemu-system-x86_64");
    assert_eq!(
        args,
        with_common(&[
            "-drive",
            "file=/out/clic-amd64.img,format=raw,if=virtio,snapshot=on",
            "-netdev",
            "user,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:2222-:22,id=net0",
            "-device",
            "virtio-net-pci,netdev=net0",
        ])
    );
}

#[test]
fn x86_64_uefi() {
    let mut o = BootOptions::new("/out/a,b.img", Firmware::Uefi);
    o.snapshot = false;
    o.memory = Some("2G".into());
    o.uefi = Some(UefiFirmware::Pflash {
        code: "/usr/share/OVMF/OVMF_CODE_4M.fd".into(),
        vars: "/tmp/clic-uefi-x/uefi-vars.fd".into(),
    });
    let (_, args) = command(&x86_64(), &o);
    let mut want = with_common(&[
        "-drive",
        "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
        "-drive",
        "if=pflash,format=raw,unit=1,file=/tmp/clic-uefi-x/uefi-vars.fd",
        "-drive",
        "file=/out/a,,b.img,format=raw,if=virtio",
        "-netdev",
        "user,id=net0",
        "-device",
        "virtio-net-pci,netdev=net0",
    ]);
    want[5] = "2G".into();
    assert_eq!(args, want);

    o.uefi = Some(UefiFirmware::Bios("/usr/share/ovmf/OVMF.fd".into()));
    let (_, args) = command(&x86_64(), &o);
    assert_eq!(args[14..16], ["-bios", "/usr/share/ovmf/OVMF.fd"]);

    o.uefi = None;
    assert!(matches!(
        qemu_command(&x86_64(), &o),
        Err(QemuError::UefiNotResolved)
    ));
}

#[test]
fn i386_bios_ide_default_nic() {
    let p = profile(
        r#"
        system = "i386"
        machine = "pc"
        cpu = "pentium3"
        memory = "256M"
        firmware = ["bios"]
        drive = "ide"
        "#,
    );
    let mut o = BootOptions::new("/out/clic-i386.img", Firmware::Bios);
    o.forwards = vec![Forward::parse("8080:80").unwrap()];
    let (program, args) = command(&p, &o);
    assert_eq!(program, "qemu-system-i386");
    assert_eq!(
        args,
        [
            "-machine",
            "pc",
            "-accel",
            "tcg",
            "-cpu",
            "pentium3",
            "-m",
            "256M",
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
            "-drive",
            "file=/out/clic-i386.img,format=raw,if=ide,snapshot=on",
            "-nic",
            "user,hostfwd=tcp:127.0.0.1:8080-:80",
        ]
    );
}

#[test]
fn aarch64_virt_kernel_from_image() {
    let p = profile(
        r#"
        system = "aarch64"
        machine = "virt"
        cpu = "cortex-a72"
        memory = "1G"
        firmware = ["none", "uefi"]
        drive = "virtio"
        nic = "virtio-net-pci"
        append = "root=/dev/vda2 console=ttyAMA0"
        extra_args = ["-device", "virtio-rng-pci"]
        [kernel_from_image]
        kernel = "vmlinuz"
        initrd = "initrd.img"
        "#,
    );
    let mut o = BootOptions::new("/out/clic-arm64.img", p.default_firmware());
    assert!(matches!(
        qemu_command(&p, &o),
        Err(QemuError::KernelNotExtracted)
    ));
    o.kernel = Some("/tmp/x/vmlinuz".into());
    o.initrd = Some("/tmp/x/initrd.img".into());
    o.forwards = vec![Forward::parse("8080:80").unwrap()];
    let (program, args) = command(&p, &o);
    assert_eq!(program, "qemu-system-aarch64");
    assert_eq!(
        args,
        [
            "-machine",
            "virt",
            "-accel",
            "tcg",
            "-cpu",
            "cortex-a72",
            "-m",
            "1G",
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
            "-kernel",
            "/tmp/x/vmlinuz",
            "-initrd",
            "/tmp/x/initrd.img",
            "-append",
            "root=/dev/vda2 console=ttyAMA0",
            "-drive",
            "file=/out/clic-arm64.img,format=raw,if=virtio,snapshot=on",
            "-netdev",
            "user,hostfwd=tcp:127.0.0.1:8080-:80,id=net0",
            "-device",
            "virtio-net-pci,netdev=net0",
            "-device",
            "virtio-rng-pci",
        ]
    );
}

#[test]
fn raspi3b_sd_card_and_usb_net() {
    let p = profile(
        r#"
        system = "aarch64"
        machine = "raspi3b"
        memory = "1G"
        firmware = ["none"]
        drive = "sd"
        nic = "usb-net"
        append = "console=ttyS1,115200 console=ttyAMA0,115200 root=/dev/mmcblk0p2 rw"
        [kernel_from_image]
        kernel = "vmlinuz-6.1.0-rpi"
        initrd = "initrd.img-6.1.0-rpi"
        dtb = "bcm2837-rpi-3-b.dtb"
        "#,
    );
    let mut o = BootOptions::new("/out/clic-rpi3.img", Firmware::None);
    o.kernel = Some("/tmp/k/vmlinuz".into());
    o.initrd = Some("/tmp/k/initrd.img".into());
    o.dtb = Some("/tmp/k/bcm2837-rpi-3-b.dtb".into());
    o.forwards = vec![Forward::parse("8080:80").unwrap()];
    let (program, args) = command(&p, &o);
    assert_eq!(program, "qemu-system-aarch64");
    assert_eq!(
        args,
        [
            "-machine",
            "raspi3b",
            "-accel",
            "tcg",
            "-m",
            "1G",
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
            "-kernel",
            "/tmp/k/vmlinuz",
            "-initrd",
            "/tmp/k/initrd.img",
            "-dtb",
            "/tmp/k/bcm2837-rpi-3-b.dtb",
            "-append",
            "console=ttyS1,115200 console=ttyAMA0,115200 root=/dev/mmcblk0p2 rw",
            "-drive",
            "file=/out/clic-rpi3.img,format=raw,if=sd,snapshot=on",
            "-netdev",
            "user,hostfwd=tcp:127.0.0.1:8080-:80,id=net0",
            "-device",
            "usb-net,netdev=net0",
        ]
    );
    // The caller's command line wins over the profile's.
    o.append = Some("console=ttyAMA0 init=/bin/sh".into());
    let (_, args) = command(&p, &o);
    assert!(args
        .windows(2)
        .any(|w| w == ["-append", "console=ttyAMA0 init=/bin/sh"]));
}

#[test]
fn nvme_serial_ports_and_no_nic() {
    let mut p = x86_64();
    p.drive = DriveKind::Nvme;
    p.nic = Some("none".into());
    p.serial = Some("null stdio".into());
    let mut o = BootOptions::new("/i.img", Firmware::Bios);
    o.extra = vec!["-S".into()];
    let (_, args) = command(&p, &o);
    assert_eq!(
        args[9..],
        [
            "-monitor",
            "none",
            "-serial",
            "null",
            "-serial",
            "stdio",
            "-no-reboot",
            "-drive",
            "file=/i.img,format=raw,if=none,id=disk0,snapshot=on",
            "-device",
            "nvme,drive=disk0,serial=clic0",
            "-nic",
            "none",
            "-S",
        ]
    );
    o.forwards = vec![Forward::parse("80:80").unwrap()];
    assert!(matches!(
        qemu_command(&p, &o),
        Err(QemuError::ForwardWithoutNic)
    ));
}

#[test]
fn mistakes_are_named() {
    let o = BootOptions::new("/i.img", Firmware::None);
    let err = qemu_command(&x86_64(), &o).unwrap_err().to_string();
    assert!(
        err.contains("[Bios, Uefi]") && err.contains("`none`"),
        "{err}"
    );

    let mut p = x86_64();
    p.firmware.push(Firmware::None);
    assert!(matches!(qemu_command(&p, &o), Err(QemuError::NeedsKernel)));

    let mut o = BootOptions::new("/i.img", Firmware::Bios);
    o.append = Some("quiet".into());
    assert!(matches!(qemu_command(&p, &o), Err(QemuError::NeedsKernel)));

    let mut arm = x86_64();
    arm.system = "aarch64".into();
    let err = qemu_command(&arm, &BootOptions::new("/i.img", Firmware::Bios)).unwrap_err();
    assert!(err.to_string().contains("only for x86"), "{err}");

    type Edit = fn(&mut QemuProfile);
    let edits: [(&str, Edit); 6] = [
        ("qemu.machine", |p| p.machine = "virt,highmem".into()),
        ("qemu.machine", |p| p.machine = "virt,x=$(id)".into()),
        ("qemu.serial", |p| p.serial = Some("null".into())),
        ("qemu.serial", |p| p.serial = Some("stdio stdio".into())),
        ("qemu.system", |p| p.system = "x86_64; rm".into()),
        ("qemu.firmware", |p| p.firmware.clear()),
    ];
    for (key, edit) in edits {
        let mut p = x86_64();
        edit(&mut p);
        let err = p.validate().unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
    let mut options = x86_64();
    options.machine = "virt,highmem=off".into();
    options.validate().unwrap();
}

#[test]
fn profile_round_trips_and_rejects_unknown_keys() {
    let p = x86_64();
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(
        json,
        r#"{"system":"x86_64","machine":"pc","memory":"1G","smp":2,"firmware":["bios","uefi"],"drive":"virtio","nic":"virtio-net-pci"}"#
    );
    assert_eq!(serde_json::from_str::<QemuProfile>(&json).unwrap(), p);
    let base = "system='x86_64'\nmachine='pc'\nmemory='1G'\ndrive='virtio'\n";
    let err = toml::from_str::<QemuProfile>(&format!("{base}firmware=['bios']\nkvm=true"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("kvm"), "{err}");
    assert!(toml::from_str::<QemuProfile>(&format!("{base}firmware=['coreboot']")).is_err());
}

#[test]
fn usb_sticks_are_read_only_usb_storage() {
    let mut o = BootOptions::new("/i.img", Firmware::Bios);
    o.usb = vec!["/tmp/stick,1.img".into()];
    let (_, args) = command(&x86_64(), &o);
    let joined = args.join(" ");
    assert!(joined.contains("-device qemu-xhci,id=clicxhci"), "{joined}");
    assert!(
        joined.contains("-drive file=/tmp/stick,,1.img,format=raw,if=none,id=clicusb0,readonly=on"),
        "{joined}"
    );
    assert!(joined.contains("usb-storage,bus=clicxhci.0,drive=clicusb0,removable=on"));
    let (_, plain) = command(&x86_64(), &BootOptions::new("/i.img", Firmware::Bios));
    assert!(!plain.join(" ").contains("xhci"));
}

#[test]
fn qmp_socket_when_asked() {
    let plain = BootOptions::new("/i.img", Firmware::Bios);
    assert!(!command(&x86_64(), &plain).1.join(" ").contains("-qmp"));
    let mut o = BootOptions::new("/i.img", Firmware::Bios);
    o.qmp = Some("/tmp/a,b/qmp.sock".into());
    let joined = command(&x86_64(), &o).1.join(" ");
    assert!(
        joined.contains("-qmp unix:/tmp/a,,b/qmp.sock,server=on,wait=off"),
        "{joined}"
    );
}
