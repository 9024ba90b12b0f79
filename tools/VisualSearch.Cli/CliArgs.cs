namespace VisualSearch.Cli;

/// <summary>Minimal GNU-style arguments: positionals, --name value, --flag.</summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);

    private CliArgs()
    {
    }

    public List<string> Positionals { get; } = [];

    /// <param name="args">Arguments after the command name.</param>
    /// <param name="flags">Option names that take no value.</param>
    public static CliArgs Parse(IEnumerable<string> args, params string[] flags)
    {
        var result = new CliArgs();
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var a = e.Current;
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var name = a[2..];
                string? value = null;
                var eq = name.IndexOf('=', StringComparison.Ordinal);
                if (eq >= 0) (name, value) = (name[..eq], name[(eq + 1)..]);
                else if (!flags.Contains(name))
                {
                    if (!e.MoveNext()) throw new UsageException($"--{name} needs a value.");
                    value = e.Current;
                }

                result._options[name] = value;
            }
            else
            {
                result.Positionals.Add(a);
            }
        }

        return result;
    }

    public bool Has(string name) => _options.ContainsKey(name);

    public string? Get(string name) => _options.GetValueOrDefault(name);

    public int GetInt(string name, int fallback, int min, int max)
    {
        var text = Get(name);
        if (text is null) return fallback;
        if (!int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new UsageException($"--{name} must be a whole number from {min} to {max}.");
        return v;
    }

    public float? GetFloat(string name, float min, float max)
    {
        var text = Get(name);
        if (text is null) return null;
        if (!float.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new UsageException($"--{name} must be a number from {min} to {max}.");
        return v;
    }

    public void RejectUnknown(params string[] known)
    {
        var unknown = _options.Keys.Where(k => !known.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"Unknown option --{unknown[0]}.");
    }
}

public sealed class UsageException(string message) : Exception(message);
