using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using VisualSearch.Functions;

// Everything is in FunctionsAppComposition, which the tests build from too.
FunctionsApplication.CreateBuilder(args).AddVisualSearchFunctions().Build().Run();
