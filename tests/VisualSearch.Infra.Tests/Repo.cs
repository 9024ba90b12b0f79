using System.Reflection;

namespace VisualSearch.Infra.Tests;

/// <summary>Locates the repository and the files under test.</summary>
internal static class Repo
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    public static string Root => LazyRoot.Value;

    public static string Infra => Path.Combine(Root, "infra");

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    /// <summary>Every Bicep and Bicep parameters file under infra/, relative to the repository root, with '/' separators.</summary>
    public static IReadOnlyList<string> BicepFiles() =>
        Directory.EnumerateFiles(Infra, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".bicep", StringComparison.Ordinal) || f.EndsWith(".bicepparam", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(Root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();

    // The root is the first directory, walking up from the test binaries, that holds the solution, or
    // Directory.Build.props next to infra/ (a nested Directory.Build.props in tests/ must not stop the walk).
    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var hasSolution = File.Exists(Path.Combine(dir.FullName, "VisualSearch.sln"))
                || File.Exists(Path.Combine(dir.FullName, "VisualSearch.slnx"));
            var hasProps = File.Exists(Path.Combine(dir.FullName, "Directory.Build.props"))
                && Directory.Exists(Path.Combine(dir.FullName, "infra"));
            if (hasSolution || hasProps)
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException(
            $"No repository root (VisualSearch.sln, or Directory.Build.props beside infra/) above {AppContext.BaseDirectory}.");
    }
}

/// <summary>Where the Bicep CLI from the Azure.Bicep.CommandLine.linux-x64 package is.</summary>
internal static class BicepLocation
{
    public const string PackageVersion = "0.49.2";

    public static string Resolve()
    {
        var candidates = new List<string>();

        var fromEnvironment = Environment.GetEnvironmentVariable("BICEP_PATH");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            candidates.Add(fromEnvironment);
        }

        // Written by the project file from $(NuGetPackageRoot) at build time.
        var fromBuild = typeof(BicepLocation).Assembly
            .GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "BicepPath")?.Value;
        if (!string.IsNullOrEmpty(fromBuild))
        {
            candidates.Add(fromBuild);
        }

        var packagesRoot = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(packagesRoot))
        {
            packagesRoot = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        }

        candidates.Add(Path.Combine(packagesRoot, "azure.bicep.commandline.linux-x64", PackageVersion, "tools", "bicep"));

        var found = candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException(
                "Bicep CLI not found; restore tests/VisualSearch.Infra.Tests (PackageDownload Azure.Bicep.CommandLine.linux-x64). Looked in: "
                + string.Join(", ", candidates));

        EnsureExecutable(found);
        return found;
    }

    private static void EnsureExecutable(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(path);
        const UnixFileMode execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        if ((mode & UnixFileMode.UserExecute) == 0)
        {
            File.SetUnixFileMode(path, mode | execute);
        }
    }
}
