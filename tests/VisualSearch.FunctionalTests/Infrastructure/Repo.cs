namespace VisualSearch.FunctionalTests.Infrastructure;

/// <summary>Locates the repository root (for node_modules) and the fixture photos copied to the output.</summary>
internal static class Repo
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    public static string Root => LazyRoot.Value;

    /// <summary>The CC0/public-domain photos of samples/photos, copied to the test output's fixtures/.</summary>
    public static string Fixtures => Path.Combine(AppContext.BaseDirectory, "fixtures");

    public static string Photo(string name) => Path.Combine(Fixtures, name);

    public static byte[] PhotoBytes(string name) => File.ReadAllBytes(Photo(name));

    /// <summary>The indexable photos of the fixtures folder (not LICENSE.md), by name.</summary>
    public static IReadOnlyList<string> PhotoNames() =>
        Directory.EnumerateFiles(Fixtures)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(n => n.EndsWith(".png", StringComparison.Ordinal) || n.EndsWith(".jpg", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();

    // The first directory above the test binaries with the solution, or Directory.Build.props beside global.json.
    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VisualSearch.sln"))
                || File.Exists(Path.Combine(dir.FullName, "VisualSearch.slnx"))
                || (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")) && File.Exists(Path.Combine(dir.FullName, "global.json"))))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No repository root (VisualSearch.sln) above {AppContext.BaseDirectory}.");
    }
}

/// <summary>A temporary directory removed on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "vs-ft-")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
