; Inno Setup 6 script: the Windows installer of coloc-viewer.
;
; Build on Windows (x64) after the PyInstaller bundle exists in dist\coloc-viewer\:
;   .venv\Scripts\pyinstaller --noconfirm --clean --distpath dist --workpath build\pyinstaller packaging\coloc_viewer.spec
;   dist\coloc-viewer\coloc-viewer.exe --smoke-test --screenshot build\smoke\smoke.png
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 packaging\windows\coloc_viewer.iss
; Output: dist\coloc-viewer-<version>-win64-setup.exe. See docs/packaging.md (use the CPU-only
; PyTorch wheels: a CUDA bundle is several GB and needs DiskSpanning).
;
; Installs per user without administrator rights by default (hospital workstations), or for
; all users when run elevated. Shortcuts, file associations (Open with for .dcm, .nii and
; .nii.gz) and a complete uninstaller. The user's settings and log files
; (%LOCALAPPDATA%\coloc-viewer) are left in place on uninstall.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "coloc-viewer"
#define AppExe "coloc-viewer.exe"
#define AppPublisher "coloc_viewer maintainers"
#define ProgIdDicom "colocviewer.dicom"
#define ProgIdNifti "colocviewer.nifti"
#define RepoRoot "..\.."

[Setup]
; Never change AppId: upgrades and the uninstaller find earlier installs through it.
AppId={{6F7C2A1E-4B0D-4C1F-9E55-2D9A3C61B0E7}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
AppComments=Does the classifier look where the clinician looks? Research software, not for diagnostic use.
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0.17763
OutputDir={#RepoRoot}\dist
OutputBaseFilename={#AppName}-{#AppVersion}-win64-setup
SetupIconFile={#RepoRoot}\resources\icons\coloc-viewer.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
; lzma2 is much smaller than zip for torch's DLLs; "fast" keeps build time reasonable.
Compression=lzma2/fast
SolidCompression=no
; A CPU-only bundle (~1 GB) fits one setup file. For a CUDA bundle set DiskSpanning=yes.
DiskSpanning=no
ChangesAssociations=yes
CloseApplications=yes
WizardStyle=modern
VersionInfoVersion={#AppVersion}
VersionInfoProductName={#AppName}

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "assocdicom"; Description: "Offer {#AppName} in ""Open with"" for DICOM files (.dcm)"; GroupDescription: "File associations:"
Name: "assocnifti"; Description: "Offer {#AppName} in ""Open with"" for NIfTI files (.nii, .nii.gz)"; GroupDescription: "File associations:"

[InstallDelete]
; An upgrade replaces the whole bundle: stale libraries of an older version must not linger.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#RepoRoot}\dist\{#AppName}\{#AppExe}"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#RepoRoot}\dist\{#AppName}\_internal\*"; DestDir: "{app}\_internal"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{userdocs}"; Comment: "DICOM/MRI viewer with feature-map co-localization scores"
Name: "{autoprograms}\{#AppName} self test"; Filename: "{app}\{#AppExe}"; Parameters: "--smoke-test"; WorkingDir: "{localappdata}"; Comment: "Checks the installation offscreen and writes a report"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Registry]
; HKA = HKLM for an all-users install, HKCU for a per-user one. Only "Open with" entries:
; the user's default program for these types is not taken over.
Root: HKA; Subkey: "Software\Classes\{#ProgIdDicom}"; ValueType: string; ValueName: ""; ValueData: "DICOM image"; Flags: uninsdeletekey; Tasks: assocdicom
Root: HKA; Subkey: "Software\Classes\{#ProgIdDicom}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"; Tasks: assocdicom
Root: HKA; Subkey: "Software\Classes\{#ProgIdDicom}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""; Tasks: assocdicom
Root: HKA; Subkey: "Software\Classes\.dcm\OpenWithProgids"; ValueType: string; ValueName: "{#ProgIdDicom}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assocdicom
Root: HKA; Subkey: "Software\Classes\{#ProgIdNifti}"; ValueType: string; ValueName: ""; ValueData: "NIfTI image"; Flags: uninsdeletekey; Tasks: assocnifti
Root: HKA; Subkey: "Software\Classes\{#ProgIdNifti}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"; Tasks: assocnifti
Root: HKA; Subkey: "Software\Classes\{#ProgIdNifti}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""; Tasks: assocnifti
Root: HKA; Subkey: "Software\Classes\.nii\OpenWithProgids"; ValueType: string; ValueName: "{#ProgIdNifti}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assocnifti
; Windows sees only the last extension of "case.nii.gz": offer the viewer for .gz in Open with.
Root: HKA; Subkey: "Software\Classes\.gz\OpenWithProgids"; ValueType: string; ValueName: "{#ProgIdNifti}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assocnifti
; "Open with" list entry and the types the application says it supports.
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".dcm"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".nii"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".gz"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Files the program may create inside its own folder (byte-code caches); user data lives
; in %LOCALAPPDATA%\coloc-viewer and is kept.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"
Type: dirifempty; Name: "{app}"
