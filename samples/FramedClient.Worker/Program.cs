using FramedClient.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// dotnet run --project samples/FramedClient.Worker -- --TimeClient:Port=1243
// (start samples/TimeStream.Kestrel first, or let the worker retry until it is there).
HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
builder.Services.Configure<TimeClientOptions>(builder.Configuration.GetSection(TimeClientOptions.Section));
builder.Services.AddHostedService<TimeClientWorker>();
builder.Build().Run();
