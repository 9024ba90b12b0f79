using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using VisualSearch.Functions.HostTests.Rpc;

namespace VisualSearch.Functions.HostTests.Harness;

/// <summary>One binding of a function as the worker's metadata declares it (a raw_bindings JSON object).</summary>
public sealed record WorkerBinding(string Name, string Type, string Direction, JsonElement Json)
{
    public string? Get(string property) =>
        Json.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, property, StringComparison.OrdinalIgnoreCase)) is { Value.ValueKind: JsonValueKind.String } p
            ? p.Value.GetString() : null;

    public IReadOnlyList<string> Methods =>
        Json.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, "methods", StringComparison.OrdinalIgnoreCase)) is { Value.ValueKind: JsonValueKind.Array } p
            ? p.Value.EnumerateArray().Select(m => m.GetString()!.ToUpperInvariant()).ToList() : [];

    public bool IsTrigger => Type.EndsWith("Trigger", StringComparison.OrdinalIgnoreCase);

    internal static WorkerBinding Parse(string raw)
    {
        var json = JsonDocument.Parse(raw).RootElement.Clone();
        string Read(string name) => json.EnumerateObject().First(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)).Value.GetString()!;
        return new WorkerBinding(Read("name"), Read("type"), Read("direction"), json);
    }
}

/// <summary>A function the worker indexed and loaded: its metadata, bindings and (for HTTP) the route the host would map.</summary>
public sealed class WorkerFunction
{
    private readonly TemplateMatcher? _route;

    internal WorkerFunction(RpcFunctionMetadata metadata, string routePrefix)
    {
        Metadata = metadata;
        Bindings = metadata.RawBindings.Select(WorkerBinding.Parse).ToList();
        Trigger = Bindings.Single(b => b.IsTrigger && b.Direction.Equals("In", StringComparison.OrdinalIgnoreCase));
        if (IsHttp)
        {
            var route = Trigger.Get("route") ?? metadata.Name;
            RouteTemplate = string.IsNullOrEmpty(routePrefix) ? route : $"{routePrefix}/{route}";
            _route = new TemplateMatcher(TemplateParser.Parse(RouteTemplate), new RouteValueDictionary());
        }
    }

    public RpcFunctionMetadata Metadata { get; }

    public string Name => Metadata.Name;

    public string Id => Metadata.FunctionId;

    public IReadOnlyList<WorkerBinding> Bindings { get; }

    public WorkerBinding Trigger { get; }

    public bool IsHttp => Trigger.Type.Equals("httpTrigger", StringComparison.OrdinalIgnoreCase);

    /// <summary>The route with host.json's routePrefix, as the host maps it (HTTP triggers only).</summary>
    public string? RouteTemplate { get; }

    /// <summary>Whether the host would send <paramref name="method"/> <paramref name="path"/> to this function, and its route values.</summary>
    public bool Matches(string method, string path, out RouteValueDictionary values)
    {
        values = new RouteValueDictionary();
        if (_route is null) return false;
        var methods = Trigger.Methods;
        if (methods.Count > 0 && !methods.Contains(method.ToUpperInvariant())) return false;
        return _route.TryMatch(path, values);
    }
}
